/** The scope of a conversation's data key: every message of it is sealed under that one key. */
export const conversationScope = (conversationId: string) => `conversation:${conversationId}`;
