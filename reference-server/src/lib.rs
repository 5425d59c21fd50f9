//! The reference JIM server: both dialects, rooms, contacts, accounts; hard to break.
//!
//! Skeleton: this crate is being built (see the open issues); it does nothing yet.
