//! Interactive stickers on stories: up to ten per story, each placed on it with a normalised
//! position, of nine kinds (polls, quizzes, questions, sliders, countdowns, mentions,
//! locations, and the fitness-native personal records and class countdowns). Posted with the
//! story (`stickers` of `POST /api/v1/stories`), shown in every read of stories with the
//! reader's response and the results they may see, answered through their own operations.

pub mod api;
pub mod countdown;
mod errors;
pub mod model;
mod repo;
mod service;
mod validate;

pub use api::{StickersApi, StorySticker, fill, fill_with};
pub use countdown::CountdownEnded;
pub use model::StickerRequest;
pub use service::{StickersByStory, check, read, store};
