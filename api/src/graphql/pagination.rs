use async_graphql::SimpleObject;

/// Relay page information.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// Page info for edges whose cursors are given in order.
    pub fn from_cursors<'a>(
        mut cursors: impl DoubleEndedIterator<Item = &'a String>,
        has_next_page: bool,
        has_previous_page: bool,
    ) -> Self {
        let start_cursor = cursors.next().cloned();
        let end_cursor = cursors
            .next_back()
            .cloned()
            .or_else(|| start_cursor.clone());
        Self {
            has_next_page,
            has_previous_page,
            start_cursor,
            end_cursor,
        }
    }
}

/// Edges and page info of a service page: `edge(cursor, node)` builds each
/// edge from the row's id cursor.
pub fn edges<T, E>(
    page: crate::services::pagination::Page<T>,
    id: impl Fn(&T) -> &str,
    edge: impl Fn(String, T) -> E,
) -> (Vec<E>, PageInfo) {
    let cursors: Vec<String> = page
        .items
        .iter()
        .map(|item| crate::services::pagination::encode_cursor(id(item)))
        .collect();
    let info = PageInfo::from_cursors(cursors.iter(), page.has_next_page, page.has_previous_page);
    let edges = cursors
        .into_iter()
        .zip(page.items)
        .map(|(cursor, item)| edge(cursor, item))
        .collect();
    (edges, info)
}
