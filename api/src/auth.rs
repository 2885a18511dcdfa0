//! API keys and the principal a request acts as.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::Role;
use crate::error::{ApiError, ApiResult};

/// Every key starts with this, so leaked keys are easy to recognise and scan for.
pub const KEY_PREFIX: &str = "ghk_";
/// Characters of a key kept in clear for listings (`ghk_` + 8).
const DISPLAY_PREFIX_LEN: usize = 12;

/// A freshly generated key. `secret` is shown once and never stored.
pub struct GeneratedKey {
    pub secret: String,
    pub hash: String,
    pub display_prefix: String,
}

pub fn generate_key() -> GeneratedKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    GeneratedKey {
        hash: hash_key(&secret),
        display_prefix: secret[..DISPLAY_PREFIX_LEN].to_owned(),
        secret,
    }
}

/// Keys carry 256 bits of entropy, so a plain SHA-256 is a safe at-rest hash
/// (no password-style stretching is needed) and allows an indexed lookup.
pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(DISPLAY_PREFIX_LEN).collect()
}

/// Who a request acts for, from its API key.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub key_id: String,
    pub role: Role,
    /// Set for partner keys, and only for them.
    pub partner_id: Option<String>,
}

/// Which partners' data a read may touch.
#[derive(Debug, Clone, PartialEq)]
pub enum Tenant {
    Partner(String),
    All,
}

impl Tenant {
    pub fn partner_id(&self) -> Option<&str> {
        match self {
            Tenant::Partner(id) => Some(id),
            Tenant::All => None,
        }
    }
}

impl Principal {
    pub fn require(&self, allowed: &[Role]) -> ApiResult<()> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; your key has {}",
                names.join(" or "),
                self.role
            )))
        }
    }

    /// Partners read their own data; admins read everyone's (optionally one
    /// partner's). Analysts do not read partner inventory.
    pub fn tenant(&self, requested_partner: Option<&str>) -> ApiResult<Tenant> {
        match self.role {
            Role::Partner => {
                let own = self.own_partner()?;
                match requested_partner {
                    Some(other) if other != own => Err(ApiError::Forbidden(
                        "a partner key can only read its own partner's data".into(),
                    )),
                    _ => Ok(Tenant::Partner(own.to_owned())),
                }
            }
            Role::Admin => Ok(match requested_partner {
                Some(id) => Tenant::Partner(id.to_owned()),
                None => Tenant::All,
            }),
            Role::Analyst => Err(ApiError::Forbidden(
                "ANALYST keys manage program rules and cannot read partner inventory".into(),
            )),
        }
    }

    /// The partner a write acts for: a partner key's own, or the one an admin names.
    pub fn acting_partner(&self, requested_partner: Option<&str>) -> ApiResult<String> {
        match self.tenant(requested_partner)? {
            Tenant::Partner(id) => Ok(id),
            Tenant::All => Err(ApiError::validation(
                "partnerId",
                "is required when an ADMIN key writes partner data",
            )),
        }
    }

    fn own_partner(&self) -> ApiResult<&str> {
        self.partner_id
            .as_deref()
            .ok_or_else(|| ApiError::internal("partner key without a partner"))
    }

    /// Idempotency keys are remembered per partner (for partner keys) or per
    /// API key (for platform roles).
    pub fn idempotency_scope(&self) -> String {
        match (&self.role, &self.partner_id) {
            (Role::Partner, Some(partner)) => partner.clone(),
            _ => self.key_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hash_stably() {
        let a = generate_key();
        let b = generate_key();
        assert!(a.secret.starts_with(KEY_PREFIX));
        assert_ne!(a.secret, b.secret);
        assert_eq!(hash_key(&a.secret), a.hash);
        assert_eq!(a.display_prefix.len(), 12);
    }

    #[test]
    fn partner_keys_cannot_reach_other_partners() {
        let p = Principal {
            key_id: "key_1".into(),
            role: Role::Partner,
            partner_id: Some("ptr_a".into()),
        };
        assert_eq!(p.tenant(None).unwrap(), Tenant::Partner("ptr_a".into()));
        assert!(matches!(
            p.tenant(Some("ptr_b")),
            Err(ApiError::Forbidden(_))
        ));
        let admin = Principal {
            key_id: "key_2".into(),
            role: Role::Admin,
            partner_id: None,
        };
        assert_eq!(admin.tenant(None).unwrap(), Tenant::All);
        assert!(matches!(
            admin.acting_partner(None),
            Err(ApiError::Validation(_))
        ));
    }
}
