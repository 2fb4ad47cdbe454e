/// Minimal JSON text helpers shared by the log handler and the ops endpoint.
enum JSONText {
    /// `string` as a quoted, escaped JSON string.
    static func quoted(_ string: String) -> String {
        var out = ""
        append(string, to: &out)
        return out
    }

    /// Appends `string` to `out` as a quoted, escaped JSON string.
    static func append(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
