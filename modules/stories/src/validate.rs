//! What a new story must hold for its kind: the parts its kind needs, none that belong to
//! another kind, and the rules of each part that its schema cannot state.

use kernel::FieldError;

use crate::model::{AchievementKind, StoryKind, StoryText};
use crate::service::{StoryDraft, kind_name};

/// `#RRGGBB`, as the document states it.
pub const COLOR_PATTERN: &str = "^#[0-9A-Fa-f]{6}$";

pub(crate) fn is_color(value: &str) -> bool {
    value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// Pushes a field error for each part of `draft` that does not fit `kind`.
pub fn content(kind: StoryKind, draft: &StoryDraft, errors: &mut Vec<FieldError>) {
    let content = &draft.content;
    let name = kind_name(kind);
    let needs = |field: &str, present: bool, wanted: bool, errors: &mut Vec<FieldError>| {
        if wanted && !present {
            errors.push(FieldError::new(
                field,
                format!("is required for a {name} story"),
            ));
        } else if !wanted && present {
            errors.push(FieldError::new(
                field,
                format!("is not allowed on a {name} story"),
            ));
        }
    };
    let media = matches!(kind, StoryKind::Image | StoryKind::Video);
    needs("media_id", draft.media_id.is_some(), media, errors);
    needs(
        "thumbnail_media_id",
        draft.thumbnail_media_id.is_some(),
        kind == StoryKind::Video,
        errors,
    );
    needs(
        "text",
        content.text.is_some(),
        kind == StoryKind::Text,
        errors,
    );
    needs(
        "workout",
        content.workout.is_some(),
        kind == StoryKind::Workout,
        errors,
    );
    needs(
        "achievement",
        content.achievement.is_some(),
        kind == StoryKind::Achievement,
        errors,
    );
    if let Some(text) = &content.text {
        text_rules(text, errors);
    }
    if let Some(workout) = &content.workout {
        if workout.title.as_deref().is_some_and(blank) {
            errors.push(FieldError::new("workout.title", "must not be blank"));
        }
        for (index, exercise) in workout.exercises.iter().enumerate() {
            if blank(&exercise.name) {
                errors.push(FieldError::new(
                    format!("workout.exercises[{index}].name"),
                    "must not be blank",
                ));
            }
        }
    }
    if let Some(achievement) = &content.achievement {
        if achievement.value <= 0.0 {
            errors.push(FieldError::new(
                "achievement.value",
                "must be greater than 0",
            ));
        }
        let record = achievement.kind == AchievementKind::PersonalRecord;
        if !record && achievement.value.fract() != 0.0 {
            errors.push(FieldError::new(
                "achievement.value",
                "must be a whole number",
            ));
        }
        for (field, value) in [
            ("achievement.exercise", &achievement.exercise),
            ("achievement.unit", &achievement.unit),
        ] {
            match value {
                None if record => {
                    errors.push(FieldError::new(field, "is required for a personal record"))
                }
                Some(_) if !record => {
                    errors.push(FieldError::new(field, "is only for a personal record"))
                }
                Some(value) if blank(value) => {
                    errors.push(FieldError::new(field, "must not be blank"))
                }
                _ => {}
            }
        }
    }
}

fn text_rules(text: &StoryText, errors: &mut Vec<FieldError>) {
    if blank(&text.text) {
        errors.push(FieldError::new("text.text", "must not be blank"));
    }
    match (&text.background_color, &text.background_gradient) {
        (Some(_), Some(_)) | (None, None) => errors.push(FieldError::new(
            "text.background_color",
            "give a background colour or a background gradient, one of the two",
        )),
        (Some(color), None) if !is_color(color) => errors.push(FieldError::new(
            "text.background_color",
            "must be a #RRGGBB colour",
        )),
        (None, Some(colors)) => {
            if let Some(index) = colors.iter().position(|color| !is_color(color)) {
                errors.push(FieldError::new(
                    format!("text.background_gradient[{index}]"),
                    "must be a #RRGGBB colour",
                ));
            }
        }
        _ => {}
    }
}
