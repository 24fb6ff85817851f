//! The session engine against real databases: every test runs on a fresh SQLite file and on a
//! fresh PostgreSQL schema. One module per area.

mod support;

mod accountable;
mod accounts;
mod cache;
mod conditions;
mod content;
mod counted;
mod expiry;
mod group;
mod stats;
mod store;
mod switching;
