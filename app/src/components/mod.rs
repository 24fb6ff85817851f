pub mod forms;
pub mod guards;
pub mod nav;
