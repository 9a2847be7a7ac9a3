/** The SDK's version, sent to servers as `typescript/<version>`; a test pins it to package.json. */
export const VERSION = "0.1.0";
