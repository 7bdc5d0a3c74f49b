//! Field rules shared by gym and workspace bodies.

use kernel::FieldError;

pub const MAX_NAME_LENGTH: usize = 120;

pub fn name(field: &str, value: &str, errors: &mut Vec<FieldError>) -> String {
    kernel::error::trimmed_name(field, value, MAX_NAME_LENGTH, errors)
}

/// An IANA time zone such as `America/Argentina/Buenos_Aires`.
pub fn timezone(value: &str, errors: &mut Vec<FieldError>) -> String {
    match value.parse::<chrono_tz::Tz>() {
        Ok(tz) => tz.name().to_string(),
        Err(_) => {
            errors.push(FieldError::new(
                "timezone",
                "must be an IANA time zone such as Europe/Madrid",
            ));
            String::new()
        }
    }
}

/// An ISO 4217 currency code such as `EUR`, of a currency with a minor unit (money is kept in
/// minor units, so gold or test codes cannot price anything).
pub fn currency(value: &str, errors: &mut Vec<FieldError>) -> String {
    let upper = value.trim().to_ascii_uppercase();
    if kernel::money::currency(&upper).is_err() {
        errors.push(FieldError::new(
            "currency",
            "must be an ISO 4217 currency code such as EUR",
        ));
    }
    upper
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_zones_and_currencies_only() {
        let mut errors = Vec::new();
        assert_eq!(
            timezone("America/Argentina/Buenos_Aires", &mut errors),
            "America/Argentina/Buenos_Aires"
        );
        assert_eq!(currency("clp", &mut errors), "CLP");
        assert!(errors.is_empty());
        timezone("Mars/Olympus", &mut errors);
        currency("XYZ1", &mut errors);
        currency("XAU", &mut errors);
        name("name", "   ", &mut errors);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["timezone", "currency", "currency", "name"]);
    }
}
