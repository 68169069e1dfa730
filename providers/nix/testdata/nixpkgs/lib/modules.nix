# A tiny NixOS-style module system for ferry's stub nixpkgs.
#
# A module is an attribute set, a function of the module arguments returning
# one, or a path to a file holding either. Modules may `imports` others
# (deduplicated by file), declare `options` (only `default` matters: it
# becomes a definition with priority 1500) and define `config` (or use the
# short form where everything but imports/options is config).
#
# Definitions are merged by shape, without option types: attribute sets are
# merged attribute by attribute; at a leaf, mkIf/mkMerge/mkOverride/mkOrder
# are discharged, the lowest priority number wins, lists are concatenated
# (ordered by mkBefore/mkAfter), equal values are accepted and different ones
# are a conflict. Derivations, functions and sets with `_type` or `outPath`
# are leaves. mkIf and mkOverride around a set are pushed into its
# attributes, so attribute names never depend on conditions (which is what
# lets `config` be a lazy fixpoint without infinite recursion).
lib:
let
  inherit (builtins)
    attrNames concatLists elem filter foldl' head isAttrs isBool isList
    isString length mapAttrs removeAttrs sort toJSON typeOf zipAttrsWith;

  concatMap = f: xs: concatLists (map f xs);

  propertyTypes = [ "if" "merge" "override" "order" ];
  typeOf' = v: if isAttrs v then v._type or null else null;

  # Whether a definition is a nested attribute set rather than a value.
  isNested = v:
    let t = typeOf' v; in
    if !(isAttrs v) then false
    else if t == "if" || t == "override" || t == "order" then isNested v.content
    else if t == "merge" then builtins.all isNested v.contents
    else t == null && !(v ? outPath) && !(v ? __functor);

  # Turns a nested definition into plain sets whose attributes carry the
  # conditions and priorities of the wrappers around them.
  pushDown = v:
    let t = typeOf' v; in
    if t == "merge" then concatMap pushDown v.contents
    else if t == "if" then map (mapAttrs (_: lib.mkIf v.condition)) (pushDown v.content)
    else if t == "override" then map (mapAttrs (_: lib.mkOverride v.priority)) (pushDown v.content)
    else if t == "order" then pushDown v.content
    else [ v ];

  # Turns a leaf definition into { value, priority, order } entries,
  # dropping the ones under a false mkIf.
  discharge = loc: priority: order: v:
    let t = typeOf' v; in
    if t == "merge" then concatMap (discharge loc priority order) v.contents
    else if t == "if" then
      (if !(isBool v.condition)
       then throw "mkIf called with a non-Boolean condition for the option `${showLoc loc}'"
       else if v.condition then discharge loc priority order v.content
       else [ ])
    else if t == "override" then discharge loc v.priority order v.content
    else if t == "order" then discharge loc priority v.priority v.content
    else [ { value = v; inherit priority order; } ];

  showLoc = loc: builtins.concatStringsSep "." loc;

  showValue = v:
    if isString v then "\"${v}\""
    else if isBool v || builtins.isInt v || builtins.isFloat v || v == null then toJSON v
    else if lib.isDerivation v then "<derivation ${v.name}>"
    else "<${typeOf v}>";

  # The definitions with the lowest priority number, properties discharged.
  winnersOf = loc: defs:
    let
      entries = concatMap
        (d: map (e: e // { inherit (d) file; }) (discharge loc 100 1000 d.value))
        defs;
      best = foldl' (m: e: if e.priority < m then e.priority else m) 9999 entries;
    in
    filter (e: e.priority == best) entries;

  # Merges the winning definitions of a value: sets attribute by attribute
  # (dropping attributes whose definitions all vanished under mkIf), lists
  # concatenated, equal values accepted.
  mergeValue = loc: winners:
    let
      values = map (e: e.value) winners;
      first = head values;
      elements = zipAttrsWith
        (name: defs: winnersOf (loc ++ [ name ]) defs)
        (concatMap
          (e: map (mapAttrs (_: value: { inherit (e) file; inherit value; })) (pushDown e.value))
          winners);
    in
    if winners == [ ] then throw "The option `${showLoc loc}' is used but not defined."
    else if builtins.all isNested values
    then mapAttrs (name: mergeValue (loc ++ [ name ])) (lib.filterAttrs (_: w: w != [ ]) elements)
    else if builtins.all isList values
    then concatMap (e: e.value) (sort (a: b: a.order < b.order) winners)
    else if length winners == 1 then first
    else if builtins.all (v: v == first) values then first
    else throw ("The option `${showLoc loc}' has conflicting definition values:"
      + lib.concatMapStrings (e: "\n- In `${e.file}': ${showValue e.value}") winners);

  # Options whose attributes are merged lazily, like namespaces.
  isLazy = opt: elem (opt.type.name or "") [ "lazyAttrsOf" ];

  # Merges definitions at loc, where decl is the option declaration tree
  # (null when nothing is declared there). Above declared options, sets are
  # merged without evaluating any condition, so that attribute names never
  # depend on config; a declared option's value is merged by mergeValue.
  mergeDefs = loc: decl: defs:
    if lib.isOption decl && !(isLazy decl) then mergeValue loc (winnersOf loc defs)
    else if defs != [ ] && builtins.all (d: isNested d.value) defs
    then zipAttrsWith
      (name: mergeDefs (loc ++ [ name ])
        (if isAttrs decl && !(lib.isOption decl) then decl.${name} or null else null))
      (concatMap
        (d: map (mapAttrs (_: value: { inherit (d) file; inherit value; })) (pushDown d.value))
        defs)
    else mergeValue loc (winnersOf loc defs);

  # Option declarations to definitions of their defaults.
  optionDefaults = opts:
    lib.filterAttrs (_: v: v != null) (mapAttrs
      (_: o:
        if lib.isOption o then (if o ? default then lib.mkOptionDefault o.default else null)
        else if isAttrs o then
          (let d = optionDefaults o; in if attrNames d == [ ] then null else d)
        else null)
      opts);

  moduleKeys = [ "_file" "key" "imports" "options" "config" "disabledModules" "meta" "freeformType" ];

in
rec {
  evalModules = evalArgs@{ modules, specialArgs ? { }, args ? { }, prefix ? [ ] }:
    let
      fixedArgs = { inherit lib config options; } // args // specialArgs;

      # Like NixOS: arguments a module asks for that are not fixed come from
      # config._module.args, looked up lazily.
      callModule = m:
        if !(lib.isFunction m) then m
        else
          let
            wanted = removeAttrs (lib.functionArgs m) (attrNames fixedArgs);
            extra = mapAttrs
              (n: _: config._module.args.${n}
                or (throw "module argument `${n}' is missing: pass it in specialArgs or set _module.args.${n}"))
              wanted;
          in
          m (fixedArgs // extra);

      load = parentFile: anonKey: m:
        let
          fromFile = builtins.isPath m || isString m;
          file = if fromFile then toString m else parentFile;
          value = callModule (if fromFile then import m else m);
          full = value ? config || value ? options;
        in
        if !(isAttrs value) then throw "module in `${file}' is a ${typeOf value}, not a set or a function returning one"
        else {
          key = if fromFile then file else value.key or anonKey;
          file = value._file or file;
          imports = value.imports or [ ];
          options = value.options or { };
          config = if full then value.config or { } else removeAttrs value moduleKeys;
        };

      closure = builtins.genericClosure {
        startSet = lib.imap0 (i: load "<module ${toString i}>" "anon-${toString i}") modules;
        operator = item: lib.imap0 (i: load item.file "${item.key}:anon-${toString i}") item.imports;
      };

      options = foldl'
        (lib.recursiveUpdateUntil (_: l: r: lib.isOption l || lib.isOption r || !(isAttrs l && isAttrs r)))
        { }
        (map (item: item.options) closure);

      config = mergeDefs prefix options
        (map (item: { inherit (item) file; value = optionDefaults item.options; }) closure
          ++ map (item: { inherit (item) file; value = item.config; }) closure);
    in
    {
      inherit config options;
      _module.args = fixedArgs;
      # As in nixpkgs: the same evaluation with more modules (and
      # specialArgs), as flakes' nixosConfigurations are extended.
      extendModules = ext@{ modules ? [ ], specialArgs ? { }, prefix ? evalArgs.prefix or [ ] }:
        evalModules (evalArgs // {
          modules = evalArgs.modules ++ modules;
          specialArgs = (evalArgs.specialArgs or { }) // specialArgs;
          inherit prefix;
        });
    };
}
