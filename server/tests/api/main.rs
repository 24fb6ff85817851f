//! The HTTP contract (docs/API.md) against a real server on SQLite and on PostgreSQL, one module
//! per area. Bodies are decoded into the wire types (`app::models`, `app::error`), so a test
//! breaks when the contract does.

#[path = "../support/mod.rs"]
mod support;

mod accountable;
mod alert_rules;
mod alerts;
mod assets;
mod cache;
mod connections;
mod content;
mod csrf;
mod dashboard;
mod defence;
mod events;
mod features;
mod fingerprint;
mod hostile;
mod metrics;
mod openapi;
mod outage;
mod pages;
mod proof;
mod requests;
mod session;
mod sweep;
mod switching;
