//! Moved to [`crate::ops::report`] (issue 21): the audit report is an operation.
#![deny(missing_docs)]

// re-export for the merge (issue 21)
pub use crate::ops::finding::Finding;
// re-export for the merge (issue 21)
pub use crate::ops::report::*;
