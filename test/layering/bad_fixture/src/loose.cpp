// Violation: a file directly under src/.
