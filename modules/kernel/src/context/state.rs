//! State a module keeps for the life of its context, made on first use: a background batcher
//! with its queue, say. One value per type and per [`crate::AppContext`], never a process-wide
//! static, so that several servers in one process (the tests) each keep their own, bound to
//! their own database.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The values, by type. Cheap to clone: clones share them.
#[derive(Clone, Default)]
pub struct ModuleState {
    values: Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>,
}

impl ModuleState {
    /// The value of type `T`, made by `init` the first time it is asked for.
    ///
    /// `init` runs under the lock, so it must be quick and must not ask for module state
    /// itself (spawning a task is fine).
    pub fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let value = values
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(init()))
            .clone();
        value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("module state is keyed by its own type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u32);

    #[test]
    fn a_value_is_made_once_and_shared_by_clones() {
        let state = ModuleState::default();
        let first = state.get_or_init(|| Counter(1));
        let again = state.clone().get_or_init(|| Counter(2));
        assert_eq!(first.0, 1);
        assert_eq!(again.0, 1);
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn each_context_keeps_its_own() {
        let one = ModuleState::default();
        let other = ModuleState::default();
        assert_eq!(one.get_or_init(|| Counter(1)).0, 1);
        assert_eq!(other.get_or_init(|| Counter(2)).0, 2);
    }
}
