import ArgumentParser
import HedgerowCore
import HedgerowHTTP

struct ClearPoisonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear-poison",
        abstract: "Let the synchronizer place a poisoned model version again (one whose load took a worker down).",
        discussion: """
            A poisoned version is also lifted by itself when its files change (a fixed model copied in). `hedgerow \\
            status` lists poisoned versions with the reason. `hedgerow up` keeps its admin token in the logs \\
            directory it prints (admin-token).
            """
    )

    @Argument(help: "Model name.") var model: String
    @Argument(help: "Version number.") var version: Int
    @Option(help: "Synchronizer address, HOST:PORT or http://HOST:PORT.") var synchronizer = "127.0.0.1:8600"
    @Option(help: "File holding the synchronizer's admin token, if it was started with one.") var adminTokenFile: String?

    func run() async throws {
        let id: ModelVersionID
        do { id = ModelVersionID(model: try ModelName(model), version: try ModelVersion(version)) } catch {
            throw ValidationError("\(error)")
        }
        let client = ControlClient()
        defer { Task { await client.shutdown() } }
        let address = try normalizeAddress(synchronizer)
        let response: HTTPResponse
        do {
            response = try await client.post(address, "/v1/poisoned/\(id.model)/versions/\(id.version)/clear", token: try readToken(adminTokenFile))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("cannot reach the synchronizer at \(synchronizer): \(error)")
        }
        guard response.status.code == 200 else {
            throw ValidationError("the synchronizer answered \(response.status.code): \(String(buffer: response.body))")
        }
        print("\(id) may be placed again; the synchronizer loads it within a round")
    }
}
