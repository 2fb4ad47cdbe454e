import Messages

/// Lists in the JSON the presence scripts answer.
extension Optional where Wrapped == JSONValue {
    /// A list from a script's JSON: Lua's cjson writes an empty table as `{}`, so that counts as empty.
    var luaList: [JSONValue] { self?.arrayValue ?? [] }

    /// The strings of a list from a script's JSON.
    var luaStrings: [String] { luaList.compactMap(\.stringValue) }
}
