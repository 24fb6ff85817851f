//! The pages, one module a route. Each wraps its content in a guard from `components::guards`.

pub mod admin;
pub mod dashboard;
pub mod login;
pub mod platforms;
pub mod register;
pub mod session;
pub mod sessions;
