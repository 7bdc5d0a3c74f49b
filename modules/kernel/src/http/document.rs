//! What a module says about its part of the OpenAPI document beyond what poem-openapi
//! generates ([`crate::Module::field_rules`], [`crate::Module::links`]): the rules its
//! handlers check on request fields, and links between its operations. The kernel's
//! [`super::openapi::finalize`] writes them in.

/// Text PostgreSQL can store: [`super::JsonBody`] refuses a NUL character in any string of a
/// body, before the handler runs.
pub const NO_NUL_PATTERN: &str = r"^[^\x00]*$";

/// Not blank: at least one character that is not white space (Unicode `White_Space`, what
/// `str::trim` removes; written out, since `\s` differs between regex dialects), and no NUL.
/// The handlers trim such fields and refuse them blank ([`crate::error::trimmed_name`]).
pub const NOT_BLANK_PATTERN: &str = r"^[^\x00]*[^\x00\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00]*$";

/// An e-mail address as sign-up accepts it: a dot-atom local part of at most 64 characters,
/// `@`, and a domain of letter-digit-hyphen labels under a top-level name. The server's check
/// (the `email_address` crate, after trimming and lower-casing) takes a little more, such as
/// quoted local parts; clients have no need of those.
pub const EMAIL_PATTERN: &str = r"^[A-Za-z0-9_%+-]{1,32}(\.[A-Za-z0-9_%+-]{1,30})?@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$";

/// The shape of an IANA time zone name (`UTC`, `Europe/Madrid`, `Etc/GMT+3`,
/// `America/Argentina/Buenos_Aires`). That the zone exists is checked against the tz
/// database, which a pattern cannot list: a well-formed unknown name answers 422.
pub const TIME_ZONE_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$";

/// What the document says of one request field.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// A string matching this pattern.
    Pattern(&'static str),
    /// An array of strings, each one of this build's API-key scopes
    /// ([`crate::Registry::api_scopes`]).
    ItemsAreApiScopes,
    /// An array of strings, each one of this build's public event types
    /// ([`crate::Registry::public_events`]).
    ItemsArePublicEvents,
    /// Not a rule: an example value, where a generated one would almost never work (an
    /// e-mail must belong to a registered user, an expiry must be in the future), or where
    /// generated ones would collide (the fuzzer's first sign-up of each kind takes the same
    /// generated e-mail). scripts/fuzz registers the example member, with the example
    /// sign-in's password.
    Example(&'static str),
}

/// A rule for `property` of the component schema `schema`.
#[derive(Debug, Clone, Copy)]
pub struct FieldRule {
    pub schema: &'static str,
    pub property: &'static str,
    pub rule: Rule,
}

/// One OpenAPI link: the `status` answer of operation `from` supplies parameters of operation
/// `to`, each `(name, runtime expression)`, e.g. `("id", "$response.body#/id")`, and properties
/// of its JSON body (`body`, same form; `$request.body#/email` is what `from` was sent).
/// poem-openapi cannot declare links; modules list theirs ([`crate::Module::links`]) and
/// [`finalize`] adds those whose operations the build serves, so that clients and the fuzzer's
/// stateful phase can walk from a created resource to the operations that use it.
#[derive(Debug, Clone, Copy)]
pub struct ApiLink {
    pub from: &'static str,
    pub status: u16,
    pub to: &'static str,
    pub parameters: &'static [(&'static str, &'static str)],
    pub body: &'static [(&'static str, &'static str)],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        regex::Regex::new(pattern)
            .unwrap_or_else(|err| panic!("{pattern}: {err}"))
            .is_match(text)
    }

    #[test]
    fn not_blank_means_what_trim_leaves() {
        let pattern = regex::Regex::new(NOT_BLANK_PATTERN).unwrap();
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let alone = c.to_string();
            assert_eq!(
                pattern.is_match(&alone),
                !c.is_whitespace() && c != '\0',
                "U+{:04X}",
                c as u32
            );
        }
        assert!(pattern.is_match(" Ann "));
        assert!(!pattern.is_match(" \u{3000}\t"));
        assert!(!pattern.is_match("Ann\0"));
        assert!(!pattern.is_match(""));
    }

    #[test]
    fn every_zone_of_the_tz_database_has_the_documented_shape() {
        for zone in chrono_tz::TZ_VARIANTS {
            assert!(matches(TIME_ZONE_PATTERN, zone.name()), "{}", zone.name());
        }
        assert!(!matches(TIME_ZONE_PATTERN, " UTC"));
    }

    #[test]
    fn documented_shapes_of_addresses() {
        for ok in ["ann@example.com", "a.b+c_d%e-f@mail.gym-1.example.co"] {
            assert!(matches(EMAIL_PATTERN, ok), "{ok}");
        }
        for bad in [
            "not-an-email",
            "a@b",
            "a..b@c.de",
            ".a@b.de",
            "a@-b.de",
            " a@b.de",
        ] {
            assert!(!matches(EMAIL_PATTERN, bad), "{bad}");
        }
        assert!(matches(NO_NUL_PATTERN, "any text\n"));
        assert!(!matches(NO_NUL_PATTERN, "a\0b"));
    }
}
