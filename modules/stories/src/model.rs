//! What a story is made of, shared by the API (as schemas) and the table (as text columns and
//! JSON): kinds, privacy levels, and each kind's own content.

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a story shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum StoryKind {
    /// An uploaded image (`media_id`).
    Image,
    /// An uploaded video (`media_id`) with an uploaded image as its thumbnail
    /// (`thumbnail_media_id`).
    Video,
    /// Text on a background colour or gradient (`text`).
    Text,
    /// A workout: exercises with sets, reps, weight and duration (`workout`).
    Workout,
    /// A personal record, a streak or a class count (`achievement`).
    Achievement,
}

/// Who sees a story besides its author (and never those in its `hidden_from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Privacy {
    /// Every member of the tenant.
    Public,
    /// People who follow the author.
    Followers,
    /// People on the author's close-friends list.
    CloseFriends,
    /// The author only.
    Private,
}

// The text of a text story and what it is shown on: a colour or a gradient, not both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StoryText {
    /// 1–500 characters.
    #[oai(validator(max_length = 500))]
    pub text: String,
    /// `#RRGGBB`.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    /// 2–4 `#RRGGBB` colours, top to bottom.
    #[oai(skip_serializing_if_is_none, validator(min_items = 2, max_items = 4))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_gradient: Option<Vec<String>>,
}

// One exercise of a workout story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct WorkoutExercise {
    /// 1–100 characters.
    #[oai(validator(max_length = 100))]
    pub name: String,
    /// 1–100.
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sets: Option<i32>,
    /// Per set, 1–1,000.
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "1000"))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reps: Option<i32>,
    /// Kilograms, 0–1,000.
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "0"), maximum(value = "1000"))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_kg: Option<f64>,
    /// 1–86,400.
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "86400"))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i32>,
}

// A workout story's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StoryWorkout {
    /// Up to 100 characters.
    #[oai(skip_serializing_if_is_none, validator(max_length = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The whole session, 1–1,440 minutes.
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "1440"))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<i32>,
    /// 1–50 exercises, in order.
    #[oai(validator(min_items = 1, max_items = 50))]
    pub exercises: Vec<WorkoutExercise>,
}

/// What an achievement story celebrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum AchievementKind {
    /// A best result on one exercise: `exercise`, `value` and `unit`.
    PersonalRecord,
    /// Consecutive days of training: `value` is the days.
    Streak,
    /// Classes attended: `value` is the count.
    ClassCount,
}

// An achievement story's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StoryAchievement {
    pub kind: AchievementKind,
    /// Greater than 0, at most 1,000,000; a whole number for streaks and class counts.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000")))]
    pub value: f64,
    /// The exercise of a personal record (1–100 characters); only for personal records.
    #[oai(skip_serializing_if_is_none, validator(max_length = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exercise: Option<String>,
    /// The unit of a personal record's value (`kg`, `reps`, `seconds`, ...; 1–20 characters);
    /// only for personal records.
    #[oai(skip_serializing_if_is_none, validator(max_length = 20))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// The content column: the one part that matches the story's kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<StoryText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workout: Option<StoryWorkout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achievement: Option<StoryAchievement>,
}

// The upload an image or video story shows, as it was when the story claimed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct StoryMedia {
    pub media_id: Uuid,
    /// `image/jpeg`, `video/mp4`, ...
    pub content_type: String,
    pub url: String,
    /// Videos: the thumbnail upload the story names.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_media_id: Option<Uuid>,
    /// Videos: their thumbnail; images: a smaller version when one existed at posting time.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}
