// Violation: src/net/ is not in the layer order.
