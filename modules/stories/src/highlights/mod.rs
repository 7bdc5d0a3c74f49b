//! Highlights: a person's named, ordered collections of their own stories, which never
//! expire. A story in a highlight keeps its uploads after it expires (the expiry job skips
//! it until it leaves its last highlight); each reader sees only the stories in it whose
//! privacy lets them ([`crate::visibility::reachable`]), and someone else's highlight only
//! while it is not archived and shows them at least one story.

mod api;
mod model;
mod repo;
mod service;

pub use api::HighlightsApi;
