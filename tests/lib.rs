//! parity's end-to-end tests: one test binary (fast to link), one module per
//! area, each running the built `parity` on real pipelines in temporary
//! directories.

mod harness;

mod cache;
mod cache_remote;
mod ci;
mod container;
mod deploy;
mod deploy_stress;
mod env_files;
mod errors;
mod exit_codes;
mod fail_fast;
mod github;
mod init;
mod init_from;
mod insight;
mod insight_doctor;
mod insight_html;
mod matrix;
mod process;
mod run;
mod scheduling;
mod services;
mod switches;
