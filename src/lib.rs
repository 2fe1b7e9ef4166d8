//! parity: one pipeline file, run the same way on a laptop, in a runner
//! container and in CI.
//!
//! Data flows one way: the file becomes a [`pipeline::Pipeline`], `exec`
//! plans and runs it, and events stream to `report`.

pub mod cache;
pub mod ci;
pub mod cli;
pub mod container;
pub mod deploy;
pub mod doctor;
pub mod env_file;
pub mod error;
pub mod exec;
pub mod exit_code;
pub mod init;
pub mod pipeline;
pub mod report;
pub mod secrets;
pub mod services;
