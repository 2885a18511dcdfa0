//! Keyset (cursor) pagination over id-ordered rows, with a page-size cap.

use base64::Engine;

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 500;

/// A page request in Relay terms, already validated.
#[derive(Debug, Clone, PartialEq)]
pub enum PageRequest {
    Forward { after: Option<String>, first: usize },
    Backward { before: Option<String>, last: usize },
}

impl PageRequest {
    pub fn from_relay(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Self> {
        let size = |name: &str, n: i32| -> ApiResult<usize> {
            if n < 0 || n as usize > MAX_PAGE_SIZE {
                Err(ApiError::validation(
                    name,
                    format!("must be between 0 and {MAX_PAGE_SIZE} (got {n})"),
                ))
            } else {
                Ok(n as usize)
            }
        };
        let after = after.map(|c| decode_cursor(&c, "after")).transpose()?;
        let before = before.map(|c| decode_cursor(&c, "before")).transpose()?;
        match (first, last) {
            (Some(_), Some(_)) => Err(ApiError::validation(
                "last",
                "use either `first` (with `after`) or `last` (with `before`), not both",
            )),
            (None, Some(last)) => {
                if after.is_some() {
                    return Err(ApiError::validation(
                        "after",
                        "cannot be combined with `last`",
                    ));
                }
                Ok(PageRequest::Backward {
                    before,
                    last: size("last", last)?,
                })
            }
            (first, None) => {
                if before.is_some() {
                    return Err(ApiError::validation(
                        "before",
                        "paginate backwards with `last` and `before`",
                    ));
                }
                Ok(PageRequest::Forward {
                    after,
                    first: first
                        .map(|n| size("first", n))
                        .transpose()?
                        .unwrap_or(DEFAULT_PAGE_SIZE),
                })
            }
        }
    }

    pub fn limit(&self) -> usize {
        match self {
            PageRequest::Forward { first, .. } => *first,
            PageRequest::Backward { last, .. } => *last,
        }
    }
}

/// One page of rows in ascending id order.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `limit + 1` in the request's
    /// direction (descending for backward pages).
    pub fn from_fetched(request: &PageRequest, mut rows: Vec<T>) -> Self {
        let limit = request.limit();
        let more = rows.len() > limit;
        rows.truncate(limit);
        match request {
            PageRequest::Forward { after, .. } => Page {
                items: rows,
                has_next_page: more,
                has_previous_page: after.is_some(),
            },
            PageRequest::Backward { before, .. } => {
                rows.reverse();
                Page {
                    items: rows,
                    has_next_page: before.is_some(),
                    has_previous_page: more,
                }
            }
        }
    }
}

/// Orders and limits an id-keyed query for one page (fetching one row more
/// than asked, to know whether another page follows).
pub fn keyset<E, C>(query: sea_orm::Select<E>, page: &PageRequest, id: C) -> sea_orm::Select<E>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ColumnTrait,
{
    use sea_orm::{QueryFilter, QueryOrder, QuerySelect};
    match page {
        PageRequest::Forward { after, first } => {
            let q = match after {
                Some(a) => query.filter(id.gt(a.clone())),
                None => query,
            };
            q.order_by_asc(id).limit(*first as u64 + 1)
        }
        PageRequest::Backward { before, last } => {
            let q = match before {
                Some(b) => query.filter(id.lt(b.clone())),
                None => query,
            };
            q.order_by_desc(id).limit(*last as u64 + 1)
        }
    }
}

pub fn encode_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str, field: &str) -> ApiResult<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("id:").map(str::to_owned))
        .ok_or_else(|| ApiError::validation(field, "is not a cursor returned by this API"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let c = encode_cursor("mtr_1");
        assert_eq!(decode_cursor(&c, "after").unwrap(), "mtr_1");
        assert!(decode_cursor("nope!", "after").is_err());
    }

    #[test]
    fn page_size_is_capped() {
        assert!(PageRequest::from_relay(None, None, Some(501), None).is_err());
        assert!(PageRequest::from_relay(None, None, Some(-1), None).is_err());
        assert_eq!(
            PageRequest::from_relay(None, None, None, None)
                .unwrap()
                .limit(),
            DEFAULT_PAGE_SIZE
        );
    }

    #[test]
    fn backward_pages_come_out_ascending() {
        let req = PageRequest::Backward {
            before: Some("x".into()),
            last: 2,
        };
        let page = Page::from_fetched(&req, vec![5, 4, 3]);
        assert_eq!(page.items, vec![4, 5]);
        assert!(page.has_previous_page && page.has_next_page);
    }
}
