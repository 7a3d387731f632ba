"""Getting organisations' interest forms (leads) to Balansekunst's staff by e-mail, without losing any."""
