//! The reference JIM client: ping, chat, raw send, scripts and listen mode.
//!
//! Skeleton: this crate is being built (see the open issues); it does nothing yet.
