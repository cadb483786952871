//! Moved to [`crate::ops::login`] (issue 21): the login engine is an operation.
#![deny(missing_docs)]

// re-export for the merge (issue 21)
pub use crate::ops::login::*;
