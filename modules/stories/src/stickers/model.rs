//! What a sticker is made of, shared by the API (as schemas) and the `story_stickers` table (as
//! typed columns and the `data` document): the kinds and each kind's own part.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a sticker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Enum, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum StickerKind {
    /// A question with 2–4 options; viewers vote once (`poll`).
    Poll,
    /// A question with 2–4 options, one of them right; viewers answer once (`quiz`).
    Quiz,
    /// A prompt viewers answer in free text, which only the author reads (`question`).
    Question,
    /// A countdown to an instant; viewers follow it to be told when it ends (`countdown`).
    Countdown,
    /// An emoji slider; viewers rate from 0 to 100 once (`slider`).
    Slider,
    /// A member of the tenant, who is notified (`mention`).
    Mention,
    /// A place (`location`).
    Location,
    /// A best result, compared with the author's earlier ones (`personal_record`).
    PersonalRecord,
    /// A countdown to a class or session; viewers follow it to be told when it starts
    /// (`class_countdown`).
    ClassCountdown,
}

impl StickerKind {
    pub fn name(self) -> &'static str {
        match self {
            StickerKind::Poll => "poll",
            StickerKind::Quiz => "quiz",
            StickerKind::Question => "question",
            StickerKind::Countdown => "countdown",
            StickerKind::Slider => "slider",
            StickerKind::Mention => "mention",
            StickerKind::Location => "location",
            StickerKind::PersonalRecord => "personal_record",
            StickerKind::ClassCountdown => "class_countdown",
        }
    }

    /// Whether viewers respond to it (mentions, locations and records are only shown).
    pub fn takes_responses(self) -> bool {
        !matches!(
            self,
            StickerKind::Mention | StickerKind::Location | StickerKind::PersonalRecord
        )
    }

    /// Whether it counts down to an instant its followers are told of.
    pub fn counts_down(self) -> bool {
        matches!(self, StickerKind::Countdown | StickerKind::ClassCountdown)
    }
}

// A poll sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerPoll {
    /// Up to 100 characters.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// 2–4 options, each 1–50 characters; votes name them by index, from 0.
    pub options: Vec<String>,
}

// A quiz sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerQuiz {
    /// 1–100 characters.
    pub question: String,
    /// 2–4 options, each 1–50 characters; answers name them by index, from 0.
    pub options: Vec<String>,
    /// The index of the right option. Required when posting; shown to the author and to
    /// those who have answered, left out for everyone else.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_option: Option<i32>,
}

// A question sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerQuestion {
    /// 1–100 characters, e.g. "Ask me about my programme".
    pub prompt: String,
}

// An emoji slider sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerSlider {
    /// 1–100 characters.
    pub prompt: String,
    /// One emoji (1–16 characters, no spaces), the slider's handle.
    pub emoji: String,
}

// A countdown sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerCountdown {
    /// 1–60 characters.
    pub title: String,
    /// In the future, at most a year ahead; its followers are told when it comes.
    pub ends_at: DateTime<Utc>,
}

// A mention sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerMention {
    /// A member of the tenant; notified when the story is posted, if the story's privacy
    /// lets them see it.
    pub user_id: Uuid,
}

// A location sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerLocation {
    /// 1–100 characters.
    pub name: String,
    /// −90 to 90; with `longitude` or not at all.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// −180 to 180; with `latitude` or not at all.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
}

// A personal-record sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerPersonalRecord {
    /// 1–100 characters; compared without regard to case.
    pub exercise: String,
    /// Greater than 0, at most 1,000,000; higher is better.
    pub value: f64,
    /// `kg`, `reps`, `seconds`, ...; 1–20 characters, compared without regard to case.
    pub unit: String,
    /// Set by the server when the story is posted: the author's best value before, among the
    /// personal-record stickers of their earlier stories for the same exercise and unit
    /// (none when this is the first).
    #[oai(read_only, skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_best: Option<f64>,
    /// Set by the server when the story is posted: whether `value` beats `previous_best` (a
    /// first record is one). A sticker that is not a new record is still posted, flagged.
    #[oai(read_only)]
    #[serde(default)]
    pub new_record: bool,
}

// A class-countdown sticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerClassCountdown {
    /// The class or session, 1–100 characters.
    pub title: String,
    /// When it starts: in the future, at most a year ahead; its followers are told then.
    pub starts_at: DateTime<Utc>,
    /// The class or session it counts down to, as the scheduling API knows it (shown to
    /// clients to link to it; not checked here).
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
}

/// The `data` column: the one part that matches the sticker's kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StickerData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<StickerPoll>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiz: Option<StickerQuiz>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<StickerQuestion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countdown: Option<StickerCountdown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slider: Option<StickerSlider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<StickerMention>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<StickerLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_record: Option<StickerPersonalRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_countdown: Option<StickerClassCountdown>,
}

impl StickerData {
    /// The instant a countdown or class countdown counts down to.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.countdown
            .as_ref()
            .map(|countdown| countdown.ends_at)
            .or_else(|| self.class_countdown.as_ref().map(|class| class.starts_at))
    }

    /// How many options a poll or quiz offers.
    pub fn option_count(&self) -> usize {
        self.poll
            .as_ref()
            .map(|poll| poll.options.len())
            .or_else(|| self.quiz.as_ref().map(|quiz| quiz.options.len()))
            .unwrap_or(0)
    }
}

/// A sticker on a new story: its kind, where it sits, and the part its kind takes.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct StickerRequest {
    pub kind: StickerKind,
    /// Left edge, as a fraction of the story's width: 0–1.
    pub x: f64,
    /// Top edge, as a fraction of the story's height: 0–1.
    pub y: f64,
    /// As a fraction of the story's width: greater than 0, at most 1.
    pub width: f64,
    /// As a fraction of the story's height: greater than 0, at most 1.
    pub height: f64,
    /// Degrees clockwise, −180 to 180 (default 0).
    pub rotation: Option<f64>,
    pub poll: Option<StickerPoll>,
    pub quiz: Option<StickerQuiz>,
    pub question: Option<StickerQuestion>,
    pub countdown: Option<StickerCountdown>,
    pub slider: Option<StickerSlider>,
    pub mention: Option<StickerMention>,
    pub location: Option<StickerLocation>,
    pub personal_record: Option<StickerPersonalRecord>,
    pub class_countdown: Option<StickerClassCountdown>,
}

impl StickerRequest {
    /// The kind-specific parts, as they are stored.
    pub fn data(&self) -> StickerData {
        StickerData {
            poll: self.poll.clone(),
            quiz: self.quiz.clone(),
            question: self.question.clone(),
            countdown: self.countdown.clone(),
            slider: self.slider.clone(),
            mention: self.mention.clone(),
            location: self.location.clone(),
            personal_record: self.personal_record.clone(),
            class_countdown: self.class_countdown.clone(),
        }
    }
}
