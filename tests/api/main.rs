#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is how a test fails
//! Black-box tests of the compiled build over HTTP, each against its own fresh database
//! (`#[sqlx::test]` creates, migrates and drops it).

mod helpers;

mod api_keys;
mod auth;
mod config;
#[cfg(feature = "payments")]
mod credits;
mod errors;
#[cfg(feature = "gym")]
mod gyms;
mod health;
mod idempotency;
mod jobs;
mod media;
mod members;
mod modules;
mod near_cache;
mod notifications;
mod one_shot;
mod openapi;
#[cfg(feature = "payments")]
mod payments;
#[cfg(feature = "payments")]
mod payments_checkout;
#[cfg(feature = "trainer")]
mod payments_connect;
#[cfg(feature = "payments")]
mod payments_mercadopago;
#[cfg(feature = "payments")]
mod payments_refunds;
#[cfg(feature = "payments")]
mod payments_renewals;
#[cfg(feature = "payments")]
mod payments_subscriptions;
#[cfg(feature = "payments")]
mod payments_webhooks;
mod ratelimit;
mod rls;
mod slow_clients;
#[cfg(feature = "stories")]
mod stories;
#[cfg(not(feature = "stories"))]
mod stories_absent;
#[cfg(feature = "stories")]
mod stories_expiry;
#[cfg(feature = "stories")]
mod stories_feed;
#[cfg(feature = "stories")]
mod stories_highlights;
#[cfg(feature = "stories")]
mod stories_insights;
#[cfg(feature = "stories")]
mod stories_interactions;
#[cfg(feature = "stories")]
mod stories_moderation;
#[cfg(feature = "stories")]
mod stories_new_story_notices;
#[cfg(feature = "stories")]
mod stories_stickers;
#[cfg(feature = "trainer")]
mod trainer;
mod webhooks;
