//! Data the platform starts with: the six market programs (always), and demo
//! partners, keys and meters (with `--demo`).

pub mod demo;
pub mod programs;
