//! The cases. Each takes a fresh store, or a factory of handles on a fresh namespace, and panics
//! on a violation.

mod events;
mod handles;
mod keys;
mod manager;
mod rows;

pub use events::*;
pub use handles::*;
pub use keys::*;
pub use manager::*;
pub use rows::*;
