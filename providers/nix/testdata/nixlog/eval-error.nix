let f = x: builtins.trace "hello trace" (builtins.trace "multi\nline" (if x then throw "boom here" else 1)); in { a = f false; b = { c = f true; }; }
