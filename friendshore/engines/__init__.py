"""The engines: exposure, concentration, flags, trend, look-through and the
scenario engine. Each takes a store and a selection and returns Polars frames."""
