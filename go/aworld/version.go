package aworld

// Version is the SDK version, announced to the server as "go/<Version>" in the worker's
// Hello.
const Version = "0.1.0"

// sdkName is what a Worker reports as its SDK.
const sdkName = "go/" + Version
