//! [`modules!`](crate::modules): the binary's one list of modules, one line each. Each line
//! yields the module's registry entry and its API; a `#[cfg(feature = "...")]` before a line
//! compiles the module in only with that feature.
//!
//! ```ignore
//! kernel::modules! {
//!     build = kernel::GymBuild;
//!     identity::Identity,
//!     tenancy::Tenancy,
//!     #[cfg(feature = "payments")] payments::Payments,
//! }
//! ```
//!
//! expands to `compiled()`, the registry's list, and `module_apis(ctx)`, every module's
//! [`crate::ModuleApi`] for the build composed as nested pairs, so poem-openapi's 16-entry tuple
//! limit never binds however many modules a build has.

#[macro_export]
macro_rules! modules {
    (build = $build:ty; $($(#[cfg($cfg:meta)])? $module:path),+ $(,)?) => {
        /// Modules compiled into this build, dependencies first.
        pub fn compiled() -> ::std::vec::Vec<&'static dyn $crate::Module> {
            let mut modules: ::std::vec::Vec<&'static dyn $crate::Module> = ::std::vec::Vec::new();
            $( $(#[cfg($cfg)])? modules.push(&$module); )+
            modules
        }

        /// Every compiled module's API for this build.
        pub fn module_apis(
            ctx: &$crate::AppContext,
        ) -> impl $crate::__private::OpenApi + 'static {
            $crate::__compose_apis!(ctx, $build; $($(#[cfg($cfg)])? $module),+)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __compose_apis {
    ($ctx:ident, $build:ty;) => { () };
    ($ctx:ident, $build:ty; $(#[cfg($cfg:meta)])? $module:path $(, $($rest:tt)*)?) => {
        (
            {
                // A module compiled out stands as `()`, which serves nothing.
                $( #[cfg(not($cfg))] let api = (); )?
                $( #[cfg($cfg)] )?
                let api = <$module as $crate::ModuleApi<$build>>::api(&$module, $ctx);
                api
            },
            $crate::__compose_apis!($ctx, $build; $($($rest)*)?)
        )
    };
}
