//! Secrets: which values to hide, hiding them in every byte parity writes,
//! and the check that the required ones are set before anything starts.

mod mask;
mod required;

pub use mask::{MaskStream, SecretSet, MASK, MIN_SAFE_LEN};
pub use required::{
    check_required, collect, deploy_needs, jobs_needing, looks_secret, Collected, SecretsError,
    TooShort,
};
