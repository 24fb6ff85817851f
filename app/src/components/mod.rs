pub mod forms;
pub mod nav;
