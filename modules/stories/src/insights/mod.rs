//! Insights for authors (by story, and over a range of days; available after expiry) and the
//! tenant-wide stories figures admins and owners get on the dashboard.

mod api;
pub mod dashboard;
mod repo;
mod service;

pub use api::InsightsApi;
