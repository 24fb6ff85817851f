pub mod devices;
pub mod forms;
pub mod fragment;
pub mod guards;
pub mod nav;
pub mod session_card;
pub mod status;
pub mod toasts;
