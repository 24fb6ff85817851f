pub mod devices;
pub mod forms;
pub mod guards;
pub mod nav;
pub mod reauth;
pub mod session_card;
pub mod status;
pub mod toasts;
