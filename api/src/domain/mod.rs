//! Domain types shared by the services and the API: enums (stored as their
//! GraphQL names), the geography catalog, meter and program specifications with
//! their validation. Nothing here touches the database.

pub mod connect;
pub mod date;
pub mod enrollment;
pub mod event;
pub mod geo;
pub mod interval;
pub mod meter;
pub mod program;

/// Declares a closed enum that is stored in the database as its GraphQL name.
macro_rules! string_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] #[graphql(name = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// Reads a value stored by this version of the code; anything else is
            /// database corruption and surfaces as an internal error.
            pub fn from_db(text: &str) -> crate::error::ApiResult<Self> {
                Self::parse(text).ok_or_else(|| {
                    crate::error::ApiError::internal(format!(
                        concat!("unknown ", stringify!($name), " `{}` in the database"),
                        text
                    ))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// What a principal may do. Partners see only their own data.
    pub enum Role {
        Partner => "PARTNER",
        /// Program analysts: program rules, parameters and plugins.
        Analyst => "ANALYST",
        Admin => "ADMIN",
    }
}
