//! Stable, opaque, prefixed platform identifiers (`mtr_…`, `ptr_…`).
//!
//! The body is a UUIDv7 in lowercase hex, so ids sort by creation time and keyset
//! pagination by id walks records in creation order.

pub const PARTNER: &str = "ptr";
pub const API_KEY: &str = "key";
pub const METER: &str = "mtr";
pub const PROGRAM: &str = "prg";
pub const PARAMETER_VERSION: &str = "ppv";
pub const IDEMPOTENCY_RECORD: &str = "idm";
pub const PLUGIN: &str = "plg";
pub const ENROLLMENT: &str = "enr";
pub const ENROLLMENT_HISTORY: &str = "enh";
pub const IDLE_PERIOD: &str = "idl";
pub const INTERVAL_UPLOAD: &str = "upl";
pub const INTERVAL_CORRECTION: &str = "cor";

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// True when `id` has the given prefix and a well-formed body; used to reject
/// obviously wrong ids (a program id passed as a meter id) with a clear error.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| body.len() == 32 && body.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_sortable() {
        let a = new_id(METER);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(METER);
        assert!(has_prefix(&a, METER));
        assert!(!has_prefix(&a, PARTNER));
        assert!(a < b);
    }
}
