import Testing

@testable import Runtime

@Suite("Process CPUs")
struct ProcessCPUsTests {
    @Test("Linux CPU lists count every CPU named, ranges included")
    func lists() {
        #expect(ProcessCPUs.count(list: "0") == 1)
        #expect(ProcessCPUs.count(list: "\t0-1\n") == 2)
        #expect(ProcessCPUs.count(list: "0-3,8,10-11") == 7)
        #expect(ProcessCPUs.count(list: "") == nil)
        #expect(ProcessCPUs.count(list: "3-1") == nil)
        #expect(ProcessCPUs.count(list: "a") == nil)
    }

    @Test("this process may run on at least one CPU and at most the machine's")
    func available() {
        #expect((1...1024).contains(ProcessCPUs.available))
    }
}
