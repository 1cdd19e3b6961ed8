"""Tools that run Localpost outside its own code: service checks, the local runner, compose."""
