//! The JIM conformance runner: replays fixtures against any server or client and explains failures.
//!
//! Skeleton: this crate is being built (see the open issues); it does nothing yet.
