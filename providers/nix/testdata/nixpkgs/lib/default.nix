# The few nixpkgs library functions that NixOS modules commonly use, written
# for ferry's stub nixpkgs. Option types are accepted and ignored: the stub
# module system (./modules.nix) merges definitions by their shape instead.
let
  inherit (builtins)
    attrNames attrValues concatLists concatStringsSep elem filter foldl'
    genList hasAttr head isAttrs isBool isFunction isInt isList isString
    length listToAttrs mapAttrs removeAttrs tail;

  lib = {
    inherit attrNames attrValues concatLists concatStringsSep elem filter
      foldl' genList head isAttrs isBool isInt isList isString length
      listToAttrs mapAttrs removeAttrs tail;

    id = x: x;
    const = x: _: x;
    flip = f: a: b: f b a;
    fix = f: let x = f x; in x;

    # Functions, including attribute sets with __functor (NixOS accepts both
    # as modules; lib.setFunctionArgs builds the latter).
    isFunction = f: isFunction f || (f ? __functor);
    functionArgs = f:
      if f ? __functor
      then f.__functionArgs or (lib.functionArgs (f.__functor f))
      else builtins.functionArgs f;
    setFunctionArgs = f: args: { __functor = _: f; __functionArgs = args; };

    isDerivation = v: isAttrs v && (v.type or null) == "derivation";

    # Lists.
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    concatMap = f: xs: concatLists (map f xs);
    flatten = x: if isList x then lib.concatMap lib.flatten x else [ x ];
    all = builtins.all;
    any = builtins.any;
    imap0 = f: xs: genList (i: f i (builtins.elemAt xs i)) (length xs);
    imap1 = f: xs: genList (i: f (i + 1) (builtins.elemAt xs i)) (length xs);
    unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
    last = xs: builtins.elemAt xs (length xs - 1);
    range = first: last: if first > last then [ ] else genList (n: first + n) (last - first + 1);

    # Strings.
    optionalString = cond: s: if cond then s else "";
    concatMapStrings = f: xs: concatStringsSep "" (map f xs);
    concatMapStringsSep = sep: f: xs: concatStringsSep sep (map f xs);
    concatStrings = concatStringsSep "";
    splitString = sep: s: filter isString (builtins.split (lib.escapeRegex sep) s);
    escapeRegex = builtins.replaceStrings
      [ "\\" "." "*" "+" "?" "(" ")" "[" "]" "{" "}" "|" "^" "$" ]
      [ "\\\\" "\\." "\\*" "\\+" "\\?" "\\(" "\\)" "\\[" "\\]" "\\{" "\\}" "\\|" "\\^" "\\$" ];
    hasPrefix = pre: s: builtins.substring 0 (builtins.stringLength pre) s == pre;
    hasSuffix = suf: s:
      let n = builtins.stringLength s; m = builtins.stringLength suf;
      in n >= m && builtins.substring (n - m) m s == suf;
    toUpper = builtins.replaceStrings
      (lib.stringToCharacters "abcdefghijklmnopqrstuvwxyz")
      (lib.stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    stringToCharacters = s: genList (i: builtins.substring i 1 s) (builtins.stringLength s);
    getName = x: (builtins.parseDrvName (x.name or x)).name;
    getVersion = x: (builtins.parseDrvName (x.name or x)).version;
    versions = {
      major = v: builtins.elemAt (builtins.splitVersion v) 0;
      majorMinor = v:
        let p = builtins.splitVersion v;
        in concatStringsSep "." [ (builtins.elemAt p 0) (builtins.elemAt p 1) ];
    };

    # Attribute sets.
    optionalAttrs = cond: as: if cond then as else { };
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: listToAttrs (map (n: f n set.${n}) (attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    filterAttrs = pred: set:
      listToAttrs (lib.concatMap
        (n: let v = set.${n}; in if pred n v then [ (lib.nameValuePair n v) ] else [ ])
        (attrNames set));
    genAttrs = names: f: listToAttrs (map (n: lib.nameValuePair n (f n)) names);
    attrByPath = path: default: set:
      if path == [ ] then set
      else if isAttrs set && set ? ${head path}
      then lib.attrByPath (tail path) default set.${head path}
      else default;
    hasAttrByPath = path: set:
      path == [ ] || (isAttrs set && set ? ${head path} && lib.hasAttrByPath (tail path) set.${head path});
    getAttrFromPath = path: set:
      lib.attrByPath path (throw "cannot find attribute `${concatStringsSep "." path}'") set;
    setAttrByPath = path: value:
      if path == [ ] then value else { ${head path} = lib.setAttrByPath (tail path) value; };
    recursiveUpdateUntil = pred: lhs: rhs:
      let
        f = path: builtins.zipAttrsWith (n: values:
          let here = path ++ [ n ]; in
          if length values == 1
            || pred here (builtins.elemAt values 1) (head values)
          then head values
          else f here values);
      in f [ ] [ rhs lhs ];
    recursiveUpdate = lib.recursiveUpdateUntil
      (path: lhs: rhs: !(isAttrs lhs && isAttrs rhs));
    foldAttrs = op: nul: list_of_attrs:
      foldl' (a: n: foldl' (a': name: a' // { ${name} = op n.${name} (a'.${name} or nul); }) a (attrNames n))
        { } list_of_attrs;

    # Documentation helpers: plain values here.
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    literalMD = text: { _type = "literalMD"; inherit text; };
    mdDoc = s: s;

    # Options: declarations only carry a default (see ./modules.nix).
    mkOption = attrs: attrs // { _type = "option"; };
    isOption = v: isAttrs v && (v._type or null) == "option";
    mkEnableOption = name: lib.mkOption {
      default = false;
      example = true;
      description = "Whether to enable ${name}.";
      type = lib.types.bool;
    };
    mkPackageOption = pkgs: name: { default ? name, ... }:
      let path = if isList default then default else [ default ];
      in lib.mkOption {
        default = lib.getAttrFromPath path pkgs;
        description = "The ${if isList name then concatStringsSep "." name else name} package to use.";
        type = lib.types.package;
      };

    # Option types are accepted and ignored: the stub merges by shape.
    types =
      let t = name: { _type = "option-type"; inherit name; };
      in {
        str = t "str"; bool = t "bool"; int = t "int"; float = t "float";
        number = t "number"; port = t "port"; path = t "path";
        package = t "package"; lines = t "lines"; commas = t "commas";
        anything = t "anything"; raw = t "raw"; unspecified = t "unspecified";
        attrs = t "attrs"; nonEmptyStr = t "nonEmptyStr";
        singleLineStr = t "singleLineStr"; pkgs = t "pkgs";
        ints = { positive = t "positive"; unsigned = t "unsigned"; between = _: _: t "between"; };
        listOf = _: t "listOf"; attrsOf = _: t "attrsOf";
        lazyAttrsOf = _: t "lazyAttrsOf"; nullOr = _: t "nullOr";
        enum = _: t "enum"; either = _: _: t "either"; oneOf = _: t "oneOf";
        uniq = _: t "uniq"; submodule = _: t "submodule";
        separatedString = _: t "separatedString"; strMatching = _: t "strMatching";
      };

    # Properties, understood by the merge in ./modules.nix.
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkOptionDefault = lib.mkOverride 1500;
    mkDefault = lib.mkOverride 1000;
    mkImageMediaOverride = lib.mkOverride 60;
    mkForce = lib.mkOverride 50;
    mkVMOverride = lib.mkOverride 10;
    mkOrder = priority: content: { _type = "order"; inherit priority content; };
    mkBefore = lib.mkOrder 500;
    mkAfter = lib.mkOrder 1500;

    evalModules = (import ./modules.nix lib).evalModules;
  };
in
lib // { lists = lib; strings = lib; attrsets = lib; trivial = lib; modules = lib; options = lib; }
