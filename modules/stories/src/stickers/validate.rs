//! What a new sticker must hold: a position on the story, the part its kind takes and none
//! another kind takes, and the rules of each part. Every error names its field in full
//! (`stickers[2].x`, `stickers[0].poll.options[1]`), because a story carries up to ten.

use chrono::{DateTime, Duration, Utc};
use kernel::FieldError;

use super::model::{StickerKind, StickerRequest};

/// Most stickers on one story.
pub const MAX_STICKERS: usize = 10;
/// Options of a poll or quiz.
pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 4;
/// Longest option, in characters.
pub const MAX_OPTION_CHARS: usize = 50;
/// Longest question, prompt, place or class title, in characters.
pub const MAX_TEXT_CHARS: usize = 100;
/// Longest countdown title, in characters.
pub const MAX_COUNTDOWN_TITLE_CHARS: usize = 60;
/// Longest slider emoji, in characters (an emoji with its modifiers).
pub const MAX_EMOJI_CHARS: usize = 16;
/// Longest unit of a record, in characters.
pub const MAX_UNIT_CHARS: usize = 20;
/// Largest value of a record.
pub const MAX_RECORD_VALUE: f64 = 1_000_000.0;
/// How far ahead a countdown may end: its job waits in the queue until then.
pub const MAX_COUNTDOWN_DAYS: i64 = 365;

/// Collects the field errors of one sticker, `field` being its place (`stickers[2]`).
struct Check<'a> {
    field: &'a str,
    errors: &'a mut Vec<FieldError>,
}

impl Check<'_> {
    fn push(&mut self, part: &str, message: impl Into<String>) {
        self.errors
            .push(FieldError::new(format!("{}.{part}", self.field), message));
    }

    /// A required text of 1 to `max` characters, not blank.
    fn text(&mut self, part: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.push(part, "must not be blank");
        } else if value.trim().chars().count() > max {
            self.push(part, format!("must be at most {max} characters"));
        }
    }

    fn fraction(&mut self, part: &str, value: f64, zero_allowed: bool) {
        let low_ok = if zero_allowed {
            value >= 0.0
        } else {
            value > 0.0
        };
        if !(value.is_finite() && low_ok && value <= 1.0) {
            let range = if zero_allowed {
                "from 0 to 1"
            } else {
                "greater than 0 and at most 1"
            };
            self.push(part, format!("must be {range}, a fraction of the story"));
        }
    }

    fn options(&mut self, part: &str, options: &[String]) {
        if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&options.len()) {
            self.push(
                part,
                format!("must have {MIN_OPTIONS} to {MAX_OPTIONS} options"),
            );
        }
        for (index, option) in options.iter().enumerate() {
            self.text(&format!("{part}[{index}]"), option, MAX_OPTION_CHARS);
        }
    }

    fn future(&mut self, part: &str, at: DateTime<Utc>, now: DateTime<Utc>) {
        if at <= now {
            self.push(part, "must be in the future");
        } else if at > now + Duration::days(MAX_COUNTDOWN_DAYS) {
            self.push(
                part,
                format!("must be at most {MAX_COUNTDOWN_DAYS} days ahead"),
            );
        }
    }
}

/// Pushes a field error for each thing wrong with `sticker`, the `index`th of its story.
/// Mentions and records are checked further against the database by the service.
pub fn sticker(
    index: usize,
    sticker: &StickerRequest,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) {
    let field = format!("stickers[{index}]");
    let mut check = Check {
        field: &field,
        errors,
    };
    check.fraction("x", sticker.x, true);
    check.fraction("y", sticker.y, true);
    check.fraction("width", sticker.width, false);
    check.fraction("height", sticker.height, false);
    if let Some(rotation) = sticker.rotation
        && !(rotation.is_finite() && (-180.0..=180.0).contains(&rotation))
    {
        check.push("rotation", "must be from -180 to 180 degrees");
    }
    parts(sticker, &mut check);

    if let Some(poll) = &sticker.poll {
        if let Some(question) = &poll.question {
            check.text("poll.question", question, MAX_TEXT_CHARS);
        }
        check.options("poll.options", &poll.options);
    }
    if let Some(quiz) = &sticker.quiz {
        check.text("quiz.question", &quiz.question, MAX_TEXT_CHARS);
        check.options("quiz.options", &quiz.options);
        match quiz.correct_option {
            None => check.push("quiz.correct_option", "is required"),
            Some(correct) if correct < 0 || correct as usize >= quiz.options.len() => check.push(
                "quiz.correct_option",
                "must be the index of one of the options, from 0",
            ),
            Some(_) => {}
        }
    }
    if let Some(question) = &sticker.question {
        check.text("question.prompt", &question.prompt, MAX_TEXT_CHARS);
    }
    if let Some(slider) = &sticker.slider {
        check.text("slider.prompt", &slider.prompt, MAX_TEXT_CHARS);
        let emoji = slider.emoji.trim();
        if emoji.is_empty()
            || emoji.chars().count() > MAX_EMOJI_CHARS
            || emoji.chars().any(char::is_whitespace)
        {
            check.push(
                "slider.emoji",
                format!("must be one emoji: 1 to {MAX_EMOJI_CHARS} characters, no spaces"),
            );
        }
    }
    if let Some(countdown) = &sticker.countdown {
        check.text(
            "countdown.title",
            &countdown.title,
            MAX_COUNTDOWN_TITLE_CHARS,
        );
        check.future("countdown.ends_at", countdown.ends_at, now);
    }
    if let Some(location) = &sticker.location {
        check.text("location.name", &location.name, MAX_TEXT_CHARS);
        match (location.latitude, location.longitude) {
            (Some(_), None) => check.push("location.longitude", "is required with a latitude"),
            (None, Some(_)) => check.push("location.latitude", "is required with a longitude"),
            _ => {}
        }
        if location
            .latitude
            .is_some_and(|lat| !(lat.is_finite() && (-90.0..=90.0).contains(&lat)))
        {
            check.push("location.latitude", "must be from -90 to 90");
        }
        if location
            .longitude
            .is_some_and(|lng| !(lng.is_finite() && (-180.0..=180.0).contains(&lng)))
        {
            check.push("location.longitude", "must be from -180 to 180");
        }
    }
    if let Some(record) = &sticker.personal_record {
        check.text("personal_record.exercise", &record.exercise, MAX_TEXT_CHARS);
        check.text("personal_record.unit", &record.unit, MAX_UNIT_CHARS);
        if !(record.value.is_finite() && record.value > 0.0 && record.value <= MAX_RECORD_VALUE) {
            check.push(
                "personal_record.value",
                "must be greater than 0 and at most 1000000",
            );
        }
    }
    if let Some(class) = &sticker.class_countdown {
        check.text("class_countdown.title", &class.title, MAX_TEXT_CHARS);
        check.future("class_countdown.starts_at", class.starts_at, now);
    }
}

/// The part the sticker's kind needs is there, and no other kind's.
fn parts(sticker: &StickerRequest, check: &mut Check<'_>) {
    let kind = sticker.kind;
    let present = [
        (StickerKind::Poll, sticker.poll.is_some()),
        (StickerKind::Quiz, sticker.quiz.is_some()),
        (StickerKind::Question, sticker.question.is_some()),
        (StickerKind::Countdown, sticker.countdown.is_some()),
        (StickerKind::Slider, sticker.slider.is_some()),
        (StickerKind::Mention, sticker.mention.is_some()),
        (StickerKind::Location, sticker.location.is_some()),
        (
            StickerKind::PersonalRecord,
            sticker.personal_record.is_some(),
        ),
        (
            StickerKind::ClassCountdown,
            sticker.class_countdown.is_some(),
        ),
    ];
    for (part, there) in present {
        if part == kind && !there {
            check.push(
                part.name(),
                format!("is required for a {} sticker", kind.name()),
            );
        } else if part != kind && there {
            check.push(
                part.name(),
                format!("is not allowed on a {} sticker", kind.name()),
            );
        }
    }
}

/// The trimmed form in which a sticker's texts are stored.
pub fn normalise(sticker: &mut StickerRequest) {
    let trim = |value: &mut String| *value = value.trim().to_string();
    if let Some(poll) = &mut sticker.poll {
        if let Some(question) = &mut poll.question {
            trim(question);
        }
        poll.options.iter_mut().for_each(trim);
    }
    if let Some(quiz) = &mut sticker.quiz {
        trim(&mut quiz.question);
        quiz.options.iter_mut().for_each(trim);
    }
    if let Some(question) = &mut sticker.question {
        trim(&mut question.prompt);
    }
    if let Some(slider) = &mut sticker.slider {
        trim(&mut slider.prompt);
        trim(&mut slider.emoji);
    }
    if let Some(countdown) = &mut sticker.countdown {
        trim(&mut countdown.title);
    }
    if let Some(location) = &mut sticker.location {
        trim(&mut location.name);
    }
    if let Some(record) = &mut sticker.personal_record {
        trim(&mut record.exercise);
        trim(&mut record.unit);
    }
    if let Some(class) = &mut sticker.class_countdown {
        trim(&mut class.title);
    }
}
