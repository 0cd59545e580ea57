fn main() {
    let mut args = std::env::args().skip(1);
    let task = if args.next().as_deref() == Some("language") {
        tidings_nlp::eval::Task::Language
    } else {
        tidings_nlp::eval::Task::Sentiment
    };
    let file = std::fs::read_to_string(args.next().unwrap_or_default()).unwrap_or_default();
    match tidings_nlp::eval::evaluate(task, &file) {
        Ok(r) => print!("{r}"),
        Err(e) => println!("{e}"),
    }
}
