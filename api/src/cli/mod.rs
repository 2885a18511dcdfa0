//! Client-side commands of the `gridhub` binary (they talk to a running server).

pub mod intervals_upload;
