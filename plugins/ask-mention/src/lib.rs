//! Answers mentions with the operator's LLM, streaming the answer into the draft.

use minstrel_sdk::{Mention, Message, Reply, draft, llm};

struct Ask;

impl Mention for Ask {
    fn handle(message: Message) -> Result<Reply, String> {
        // The conversation is the reply chain: the bot's earlier answers are the
        // assistant's turns, everything else the user's.
        let mut messages = vec![llm::ChatMessage {
            role: llm::Role::System,
            content: "Answer briefly.".into(),
        }];
        messages.extend(message.reply_chain.into_iter().map(|m| llm::ChatMessage {
            role: if m.from_bot {
                llm::Role::Assistant
            } else {
                llm::Role::User
            },
            content: m.content,
        }));
        messages.push(llm::ChatMessage {
            role: llm::Role::User,
            content: message.content,
        });
        let request = llm::ChatRequest {
            model: None,
            messages,
            max_tokens: Some(400),
            temperature: None,
        };
        let stream = llm::chat_stream(&request)?;
        let mut answer = String::new();
        while let Some(piece) = stream.next()? {
            draft::append(&piece);
            answer.push_str(&piece);
        }
        Ok(Reply::text(answer))
    }
}

minstrel_sdk::export_mention!(Ask);
