//! One module per command family: each applies a validated request to the session and the
//! registry and queues the responses, relays and pushes it causes.

pub(crate) mod auth;
pub(crate) mod chat;
pub(crate) mod contacts;
pub(crate) mod presence;
pub(crate) mod quit;
pub(crate) mod rooms;
pub(crate) mod users;
