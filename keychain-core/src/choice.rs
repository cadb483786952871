//! Closed sets of named values a person picks from (a key store, a flow, a severity): one list
//! of names and one-line descriptions per set, so that a front end can offer, complete and
//! document them and serde and `FromStr` accept exactly the same names.

/// A value from a closed set, known by name.
pub trait Choice: Copy + Sized + 'static {
    /// Every value, in the order they are offered.
    const ALL: &'static [Self];
    /// The name users type and see.
    fn name(self) -> &'static str;
    /// One line on what the value means, where the name does not say it all.
    fn help(self) -> Option<&'static str> {
        None
    }
    /// The value called `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.name() == name)
    }
}

/// Implements `Display` and `FromStr` for a [`Choice`] by its names.
#[macro_export]
macro_rules! choice_text {
    ($type:ty) => {
        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::choice::Choice::name(*self))
            }
        }
        impl ::std::str::FromStr for $type {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                <$type as $crate::choice::Choice>::from_name(text).ok_or_else(|| {
                    let names: Vec<&str> = <$type as $crate::choice::Choice>::ALL
                        .iter()
                        .map(|value| $crate::choice::Choice::name(*value))
                        .collect();
                    format!("'{text}' is not one of: {}", names.join(", "))
                })
            }
        }
    };
}
